#!/usr/bin/env bash
# The app writes one JSON object per line to stdout. The platform's rsyslog rule prefixes each
# line with a date, host and program name, which makes it no longer JSON: CloudWatch Logs could
# then neither filter it by field nor read its embedded metrics. Write the lines as they are.
set -euo pipefail
cat > /etc/rsyslog.d/web.conf <<'RULES'
template(name="chat-raw" type="string" string="%msg:2:$%\n")
if $programname == 'web' then {
    *.=warning;*.=err;*.=crit;*.=alert;*.=emerg action(type="omfile" file="/var/log/web.stderr.log" template="chat-raw")
    *.=info;*.=notice action(type="omfile" file="/var/log/web.stdout.log" template="chat-raw")
    stop
}
RULES
systemctl restart rsyslog
