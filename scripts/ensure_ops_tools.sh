#!/usr/bin/env bash
# Make sure the tools the operations tests use are installed: Debian's nginx (the scale-out test
# runs it as a child process in front of three daphne servers) and a Docker Compose client to
# validate docker-compose.*.yml with (`docker compose` if the plugin is there, else Debian's
# docker-compose), and Debian's prometheus for its promtool (the alert rules' unit tests run
# `promtool test rules`). No Docker engine or Prometheus server is needed or left running.
# Idempotent and quiet when present.
set -euo pipefail

missing=()
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    missing+=(nginx)
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    missing+=(docker-compose)
fi
if ! command -v promtool >/dev/null; then
    missing+=(prometheus)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "Missing ${missing[*]} and there is no apt-get here: install them for the operations tests." >&2
    exit 1
fi
sudo=""
if [[ "$(id -u)" != "0" ]]; then
    if ! command -v sudo >/dev/null; then
        echo "Missing ${missing[*]}; installing needs root: run 'apt-get install -y ${missing[*]}' as root." >&2
        exit 1
    fi
    sudo="sudo"
fi
echo "==> Installing Debian's ${missing[*]} for the operations tests"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
# No recommends: docker-compose would otherwise pull in the Docker engine, which is not needed.
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx on port 80 (and prometheus on 9090) when it can; the tests run their own
# nginx and only promtool of prometheus, so stop those services.
for service_name in nginx prometheus; do
    if command -v service >/dev/null && service "$service_name" status >/dev/null 2>&1; then
        $sudo service "$service_name" stop >/dev/null 2>&1 || true
    fi
done
echo "==> Installed ${missing[*]}"
