"""Log-ins: who may try a password, how many at once, and checking it without holding a
database connection.

A password check costs a fraction of a second of CPU by design (PBKDF2), so log-ins are the
cheapest way to flood a server. Three defences, in order:

- **Budgets** (``chat.budgets``), spent *before* the password is checked, so concurrent guesses
  cannot all be checked against one remaining attempt: per client address, per account and
  address, and per account with a higher ceiling. An attacker's failures from their own
  addresses do not lock the owner out from theirs; only many addresses at once reach the
  account's ceiling. A successful log-in gives back what it spent and clears its account and
  address's failures.
- **Admission**: at most ``CHAT_LOGIN_CONCURRENCY`` password checks run at once in a process;
  a log-in waits up to ``CHAT_LOGIN_WAIT_SECONDS`` for one and is then refused as busy (a 429,
  never a 5xx), so a flood cannot take every core and thread from signed-in users.
- **No connection while hashing**: the user's row is read, the pooled connection goes back,
  then the password is checked (``PasswordBackend``).
"""

import contextlib
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, router

from chat import budgets, text

# Failed log-ins are counted in windows of this many seconds.
WINDOW = 15 * 60
# How long a log-in refused as busy should wait before trying again, in seconds.
BUSY_RETRY_AFTER = 2
FAILED_LOGINS_PER_ADDRESS = budgets.Budget(
    "login-address", limit="CHAT_LOGIN_FAILURES_PER_ADDRESS", window=WINDOW
)
FAILED_LOGINS_PER_ACCOUNT_ADDRESS = budgets.Budget(
    "login-account-address", limit="CHAT_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", window=WINDOW
)
FAILED_LOGINS_PER_ACCOUNT = budgets.Budget(
    "login-account", limit="CHAT_LOGIN_FAILURES_PER_ACCOUNT", window=WINDOW
)


class Throttled(Exception):
    """This log-in is refused before its password is checked; ``busy`` when the server is
    checking as many passwords as it may (retry in seconds), else a budget is spent."""

    def __init__(self, *, busy: bool):
        super().__init__("busy" if busy else "budget")
        self.busy = busy

    @property
    def retry_after(self) -> int:
        """Seconds to wait before trying again."""
        return BUSY_RETRY_AFTER if self.busy else WINDOW

    def as_validation_error(self) -> "ValidationError":
        """The refusal as a form shows it."""
        if self.busy:
            return ValidationError(
                "Many people are signing in right now. Try again in a few seconds.", code="busy"
            )
        return ValidationError(
            "Too many failed log-ins. Try again in 15 minutes.", code="throttled"
        )


class _Admission:
    """A process's password checks in progress, at most ``CHAT_LOGIN_CONCURRENCY``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slots: threading.BoundedSemaphore | None = None
        self._size = 0

    def _semaphore(self) -> threading.BoundedSemaphore:
        with self._lock:
            if self._slots is None or self._size != settings.CHAT_LOGIN_CONCURRENCY:
                self._size = settings.CHAT_LOGIN_CONCURRENCY
                self._slots = threading.BoundedSemaphore(self._size)
            return self._slots

    @contextlib.contextmanager
    def slot(self):
        slots = self._semaphore()
        if not slots.acquire(timeout=settings.CHAT_LOGIN_WAIT_SECONDS):
            raise Throttled(busy=True)
        try:
            yield
        finally:
            slots.release()


admission = _Admission()


def _keys(username: str, address: str) -> list[tuple[budgets.Budget, str]]:
    account = username.casefold()
    return [
        (FAILED_LOGINS_PER_ADDRESS, address),
        (FAILED_LOGINS_PER_ACCOUNT_ADDRESS, f"{account}\n{address}"),
        (FAILED_LOGINS_PER_ACCOUNT, account),
    ]


@contextlib.contextmanager
def login_attempt(*, username: str, address: str):
    """Admit one password check of ``username`` from ``address``: ``Throttled`` when a budget
    is spent or the server is busy. Inside, the caller checks the password and raises on a
    failure (the attempt stays spent); leaving normally is a success, and gives it back."""
    spent = []
    # Narrowest first: an address over its own budget spends nothing of the account's.
    for budget, key in _keys(username, address):
        count, counted = budget.take(key)
        spent.append((budget, counted))
        if count > budget.limit:
            raise Throttled(busy=False)

    def give_back():
        for budget, counted in spent:
            budget.give_back(counted)

    try:
        with admission.slot():
            yield
    except Throttled:  # busy: nothing was tried, so nothing counts
        give_back()
        raise
    # A failed check (the caller raised) stays spent; a success gives back and clears.
    give_back()
    FAILED_LOGINS_PER_ACCOUNT_ADDRESS.reset(f"{username.casefold()}\n{address}")


def release_connection(model=None) -> None:
    """Hand the request's database connection back (to the pool) before a slow step, unless
    a transaction needs it; the next query takes one again."""
    connection = connections[router.db_for_read(model or get_user_model())]
    if not connection.in_atomic_block:
        connection.close()


class PasswordBackend(ModelBackend):
    """Django's username and password check, with the pooled connection given back while the
    password is hashed. A wrong password ends the log-in here (``PermissionDenied``) rather than
    letting another backend hash it a second time."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            user = None
        release_connection(User)
        if user is None:
            # Hash once anyway: a missing name takes as long as a wrong password.
            User().set_password(password)
            raise PermissionDenied
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        raise PermissionDenied


def username_check(username: str, *, besides_user_id=None) -> None:
    """The rules a new name (signing up, renaming) follows: Django's for a username, not taken
    in any case, letters of one alphabet, and not like a name already taken; ``besides_user_id``
    is the user being renamed. Raises ``ValidationError``."""
    User = get_user_model()
    if not username:
        raise ValidationError("Choose a username.", code="required")
    User._meta.get_field(User.USERNAME_FIELD).run_validators(username)
    taken = User._default_manager.filter(**{f"{User.USERNAME_FIELD}__iexact": username})
    if taken.exclude(pk=besides_user_id).exists():
        raise ValidationError("A user with that username already exists.", code="unique")
    if text.mixes_scripts(username):
        raise ValidationError(
            "Use letters of one alphabet: Latin, Cyrillic and Greek letters that look alike "
            "cannot be mixed.",
            code="mixed_scripts",
        )
    if username_lookalike_taken(username, besides_user_id=besides_user_id):
        raise ValidationError(
            "This username looks like one already taken; choose another.", code="lookalike"
        )


def username_lookalike_taken(username: str, *, besides_user_id=None) -> bool:
    """Whether an account's name (other than ``besides_user_id``'s) looks like ``username`` on
    screen (a confusable skeleton in common, UTS #39, in any case): "aIice" beside "alice",
    "rnallory" beside "mallory"."""
    from chat.models import UsernameSkeleton

    same = UsernameSkeleton.objects.filter(skeleton__in=text.username_looks(username))
    if besides_user_id is not None:
        same = same.exclude(user_id=besides_user_id)
    return same.exists()


def username_skeleton_record(user) -> None:
    """Keep ``user``'s skeleton rows in step with their name (every way an account is made or
    renamed: sign-up, the admin, ``createsuperuser``, a shell)."""
    from chat.models import UsernameSkeleton

    looks = text.username_looks(user.get_username())
    rows = UsernameSkeleton.objects.filter(user_id=user.pk)
    rows.exclude(skeleton__in=looks).delete()
    UsernameSkeleton.objects.bulk_create(
        [UsernameSkeleton(user_id=user.pk, skeleton=look) for look in looks],
        ignore_conflicts=True,
    )


def _user_saved(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        username_skeleton_record(instance)


def connect_signals() -> None:
    from django.db.models.signals import post_save

    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="chat-username-skeleton")
