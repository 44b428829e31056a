#!/bin/sh
# run.sh FILE OPTIONS PID: uploads FILE to import_customers with OPTIONS,
# polls import_job until it ends, and samples the server's resident memory.
FILE=$1 OPTS=$2 PID=$3 TOKEN=$(cat token) URL=http://127.0.0.1:18099/graphql
start=$(date +%s.%N)
ID=$(curl -s $URL -H "Authorization: Bearer $TOKEN" \
  -F operations="{\"query\": \"mutation (\$f: Upload!) { import_customers(file: \$f, options: $OPTS) { id } }\", \"variables\": {\"f\": null}}" \
  -F map='{"0": ["variables.f"]}' -F 0=@$FILE | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["import_customers"]["id"])')
up=$(date +%s.%N)
max=0
while :; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status); [ "$rss" -gt "$max" ] && max=$rss
  out=$(curl -s $URL -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"query\": \"{ import_job(id: \\\"$ID\\\") { status rows_done created failed } }\"}")
  case "$out" in *RUNNING*) sleep 0.5;; *) break;; esac
done
end=$(date +%s.%N)
echo "$out"
echo "upload+check: $(echo "$up - $start" | bc) s, total: $(echo "$end - $start" | bc) s, server max RSS: $((max/1024)) MB"
