"""Forms of the pages."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from chat.models import ChatRoom


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
