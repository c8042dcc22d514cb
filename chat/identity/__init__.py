"""Who a request or socket is: personal API tokens (``tokens``), the OpenID Connect provider's
sign-in and tokens (``provider``), and bearer credentials of either kind (``bearer``)."""
