"""claire: the command-line papertest manager of Claire de Binare."""
