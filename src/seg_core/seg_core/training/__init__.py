"""Training and evaluation: losses, metrics, the train/eval loop and the `python -m seg_core.train` subcommands."""
