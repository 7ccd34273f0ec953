"""The channels_classic side of the benchmark: routing, consumers and the layer."""
