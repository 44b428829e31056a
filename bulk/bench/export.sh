#!/bin/sh
# export.sh FORMAT PID: asks export_customers for a link, downloads it, and
# samples the server's resident memory.
FORMAT=$1 PID=$2 TOKEN=$(cat token) BASE=http://127.0.0.1:18099
LINK=$(curl -s $BASE/graphql -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"query\": \"mutation { export_customers(format: $FORMAT) { url } }\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["export_customers"]["url"])')
rm -f done; echo 0 > maxrss
( max=0; while kill -0 $PID 2>/dev/null && [ ! -f done ]; do rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status); [ "$rss" -gt "$max" ] && echo $rss > maxrss && max=$rss; sleep 0.2; done ) &
/usr/bin/time -f "download: %e s" curl -s -o export.$FORMAT "$BASE$LINK"
touch done; sleep 0.5
echo "$(wc -l < export.$FORMAT) lines, $(du -m export.$FORMAT | cut -f1) MB, server max RSS: $(( $(cat maxrss) / 1024 )) MB"
