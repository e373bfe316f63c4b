"""The network (trunks, class branch, fusion, colour head), its losses, ImageNet weights and
model directories."""
