"""The sync benchmark of issue 3: seed, serve under gunicorn, drive workloads A-D, measure floors."""
