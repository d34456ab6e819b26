"""One module per panel. Each panel is fed plain data by the app and knows nothing of I/O."""
