"""Console chat adapter: try oscbot in a terminal."""
