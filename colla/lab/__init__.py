"""The lab: several colla nodes on one machine, and a registry they pull from."""
