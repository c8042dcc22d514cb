#!/usr/bin/env bash
# Each socket is an open file in the app process (and two in nginx). systemd starts services
# with a soft limit of 1,024, which a few hundred browsers with several tabs would exhaust:
# raise the app's (the platform's web.service) to 65,536. /ready/ reports the limit in force.
set -euo pipefail
mkdir -p /etc/systemd/system/web.service.d
cat > /etc/systemd/system/web.service.d/chat-open-files.conf <<'LIMITS'
[Service]
LimitNOFILE=65536
LIMITS
systemctl daemon-reload
