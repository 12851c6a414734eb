"""The notebook front door: `%mlops` magics, cell hooks and widgets."""
