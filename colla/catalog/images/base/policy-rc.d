#!/bin/sh
# Installed by colla: package scripts never start services inside an image.
exit 101
