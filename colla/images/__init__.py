"""Images: the tree as data, Dockerfile rendering, the builder and the offline base image."""
