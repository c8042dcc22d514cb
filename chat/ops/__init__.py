"""Operations: JSON logs with request, user, chat and socket ids; metrics; health checks."""
