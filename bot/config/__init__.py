"""The team as configuration: `model` (the typed shape of app.yaml), `loader` (YAML with
line numbers and `${ENV}`), `check` (every problem, for `oscbot check`), `starter`
(`oscbot init`), `settings` (the environment), `hours` (working hours) and `examples/`
(the bundled example team).
"""
