"""An example ckpt-lint plugin (see rules.py); the template teams copy for their own rules."""
