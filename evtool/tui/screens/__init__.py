"""The dashboard's screens: the lesson picker, the dashboard, and its dialogs."""
