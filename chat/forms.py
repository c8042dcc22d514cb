"""Forms of the pages."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from chat import accounts, budgets
from chat.models import ChatRoom


class BudgetedLogIn:
    """A log-in form's password check admitted by ``chat.accounts.login_attempt``: refused
    before the password is tried once an address, an account from an address or an account
    has failed too often, or while the server checks as many passwords as it may.
    ``throttled`` says which (None: not refused)."""

    throttled: accounts.Throttled | None = None

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        address = budgets.client_address(self.request) if self.request else ""
        try:
            with accounts.login_attempt(username=username, address=address):
                return super().clean()
        except accounts.Throttled as throttled:
            self.throttled = throttled
            raise throttled.as_validation_error() from None


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form to change one's password; the old password is checked as a log-in's is
    (``chat.accounts``: budgets, admission, no connection held while hashing), so a stolen
    session cannot guess it without limit, nor a crowd of signed-in users flood the server."""

    throttled: accounts.Throttled | None = None

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_old_password(self):
        address = budgets.client_address(self.request) if self.request else ""
        try:
            with accounts.login_attempt(username=self.user.get_username(), address=address):
                accounts.release_connection()
                return super().clean_old_password()
        except accounts.Throttled as throttled:
            self.throttled = throttled
            raise throttled.as_validation_error() from None


class LogInForm(BudgetedLogIn, AuthenticationForm):
    """The log-in page's form."""


class AdminLogInForm(BudgetedLogIn, AdminAuthenticationForm):
    """The admin's log-in form, under the same budgets."""


class SignUpForm(UserCreationForm):
    """Django's sign-up form; a username must not look like one already taken, and an address
    may sign up only so many accounts an hour (``chat.budgets``)."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = budgets.client_address(request) if request else ""

    def clean(self):
        if budgets.SIGNUPS_PER_ADDRESS.exhausted(self.address):
            raise forms.ValidationError(
                "Too many sign-ups from your network. Try again in an hour.", code="throttled"
            )
        return super().clean()

    def save(self, commit=True):
        budgets.SIGNUPS_PER_ADDRESS.spend(self.address)
        return super().save(commit)

    def clean_username(self):
        # Django's field has normalized the name (NFKC); Django refuses a name taken in another
        # case (and then returns None).
        username = super().clean_username()
        if username is not None:
            accounts.username_check(username)
        return username


_USERNAME = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD)


class UsernameChangeForm(forms.Form):
    """A new name under the sign-up rules (taken in any case, look-alikes); ``user``: whose
    (None for an account still to be made). It changes nothing: the rename is the service's
    (``services.user_rename``), so a refused name never lingers on ``user``."""

    username = auth_forms.UsernameField(
        max_length=_USERNAME.max_length, help_text=_USERNAME.help_text
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            self.initial["username"] = user.get_username()

    def clean_username(self):
        username = self.cleaned_data["username"]
        accounts.username_check(username, besides_user_id=self.user.pk if self.user else None)
        return username


class ApiTokenForm(forms.Form):
    """The settings page's "New token"."""

    name = forms.CharField(max_length=100, help_text="What will use it: a bot, a script, a phone.")


class ChatCreateForm(forms.Form):
    """The "New chat" dialog: the people to talk to and, for a group, its name. One person and
    no name starts (or opens) the direct chat with them; more people, or a name, a group."""

    usernames = forms.CharField(
        max_length=2000,
        label="With",
        help_text="Type a username and pick it; several people, separated by commas, make a group.",
        widget=forms.TextInput(attrs={"data-picker": "many", "autocomplete": "off"}),
    )
    name = forms.CharField(
        max_length=200,
        required=False,
        label="Group name",
        help_text="Needed for a group.",
    )
    chat_type = forms.ChoiceField(
        choices=ChatRoom.ChatType.choices, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_usernames(self) -> list[str]:
        """The names, each once (in any case), without the user's own."""
        own = self.user.get_username().casefold() if self.user is not None else None
        names, seen = [], {own}
        for name in (name.strip() for name in self.cleaned_data["usernames"].split(",")):
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
        if not names:
            raise forms.ValidationError("Name at least one other person.")
        return names

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("chat_type") and "usernames" in cleaned:
            direct = len(cleaned["usernames"]) == 1 and not cleaned.get("name", "").strip()
            cleaned["chat_type"] = ChatRoom.ChatType.DIRECT if direct else ChatRoom.ChatType.GROUP
            if not direct and not cleaned.get("name", "").strip():
                self.add_error("name", "A group needs a name.")
        return cleaned
