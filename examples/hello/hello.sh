#!/bin/sh
echo "$GREETING"
cat message.txt
cat build-info.txt
echo "running as pid $$ in $(pwd) on host $(hostname)"
