"""The live part: the chat socket and its protocol, who may open one, the fan-out of frames
to every process's sockets (in order, through one Redis subscription), the socket limits and
the batched writes of the connection registry."""
