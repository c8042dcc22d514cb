"""Moderation that reaches open sockets: notices to sockets about changes made anywhere
(``notices``), the model signals that send them (``signals``) and moderators' actions
(``actions``)."""
