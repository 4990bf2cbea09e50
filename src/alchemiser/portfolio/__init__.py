"""Portfolio maths with no I/O: blending strategy allocations and planning a rebalance."""
