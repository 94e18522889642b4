"""ckpt-lint's rules, one module per rule family; each rule's docstring is its documentation."""
