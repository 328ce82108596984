"""People: users, their roles, sign-up, sign-in and API tokens."""
