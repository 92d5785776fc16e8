"""The sync benchmark of issue 3: seed, serve, drive workloads A-D, measure the floors."""
