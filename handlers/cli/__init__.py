"""The `oscbot` command line: `app` (every command) and `calendar` (`oscbot calendar`)."""
