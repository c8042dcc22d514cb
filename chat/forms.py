"""Forms of the pages."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from chat import budgets
from chat.models import ChatRoom


class LogInForm(AuthenticationForm):
    """Django's log-in form, refusing to try more passwords once a username or an address has
    failed too often (``chat.budgets``)."""

    def clean(self):
        username = (self.cleaned_data.get("username") or "").casefold()
        address = budgets.client_address(self.request) if self.request else ""
        if budgets.FAILED_LOGINS_PER_USERNAME.exhausted(
            username
        ) or budgets.FAILED_LOGINS_PER_ADDRESS.exhausted(address):
            raise forms.ValidationError(
                "Too many failed log-ins. Try again in 15 minutes.", code="throttled"
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            budgets.FAILED_LOGINS_PER_USERNAME.spend(username)
            budgets.FAILED_LOGINS_PER_ADDRESS.spend(address)
            raise
        budgets.FAILED_LOGINS_PER_USERNAME.reset(username)
        return cleaned


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class ChatCreateForm(forms.Form):
    chat_type = forms.ChoiceField(
        choices=ChatRoom.ChatType.choices, initial=ChatRoom.ChatType.DIRECT, label="Type"
    )
    usernames = forms.CharField(
        max_length=2000,
        label="With",
        help_text="One username for a direct chat; several, separated by commas, for a group.",
    )
    name = forms.CharField(max_length=200, required=False, label="Group name")

    def clean_usernames(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["usernames"].split(",")]
        names = [name for name in names if name]
        if not names:
            raise forms.ValidationError("Name at least one user.")
        return names
