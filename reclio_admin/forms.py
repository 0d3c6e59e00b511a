"""The admin's login form."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.validators import MaxLengthValidator


class LoginForm(AdminAuthenticationForm):
    """Refuses a user name longer than any account's with the field's own message, before it
    reaches authentication: the login throttle records every failed name, in a column of 255
    characters, and a longer one was a database error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django gives this limit to the widget only (its `maxlength`), not to the validation.
        limit = self.username_field.max_length
        if limit is not None:
            self.fields["username"].validators.append(MaxLengthValidator(limit))
