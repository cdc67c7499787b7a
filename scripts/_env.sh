# Shared by run_pipeline.sh and test.sh: check Java, create/refresh .venv, export Spark paths.
# Sourced, not executed. Idempotent: a second call reinstalls nothing unless pyproject changed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LAKEHOUSE_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

die() { echo "error: $*" >&2; exit 1; }

check_java() {
    local java_cmd="java"
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then java_cmd="$JAVA_HOME/bin/java"; fi
    if ! command -v "$java_cmd" >/dev/null 2>&1; then
        die "Java 17 or 21 is required by Spark but 'java' was not found.
  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless
  macOS:         brew install openjdk@17
  then make sure 'java -version' works or set JAVA_HOME."
    fi
    local version
    version="$("$java_cmd" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
    local major="${version%%.*}"
    if [[ -z "$major" || "$major" -lt 17 ]]; then
        die "Spark 4 needs Java 17 or newer; found '${version:-unknown}'. Install openjdk-17 and set JAVA_HOME."
    fi
}

check_python() {
    command -v "$PYTHON_BIN" >/dev/null 2>&1 || die "python3 (3.11 or 3.12) not found; set PYTHON=/path/to/python3.11"
    "$PYTHON_BIN" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' \
        || die "Python 3.11 or 3.12 is required; $("$PYTHON_BIN" --version 2>&1) found. Set PYTHON=/path/to/python3.11"
}

# ensure_venv [extras]: install the project (editable) with the given extras, once per change.
ensure_venv() {
    local extras="${1:-}"
    check_python
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV" >&2
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    local stamp="$VENV/.lakehouse-installed${extras:+-$extras}"
    # A dev install includes the base install.
    if [[ -z "$extras" && -f "$VENV/.lakehouse-installed-dev" && ! "$ROOT/pyproject.toml" -nt "$VENV/.lakehouse-installed-dev" ]]; then
        stamp="$VENV/.lakehouse-installed-dev"
    fi
    if [[ ! -f "$stamp" || "$ROOT/pyproject.toml" -nt "$stamp" ]]; then
        echo "installing lakehouse${extras:+[$extras]} into $VENV (first run takes a minute)" >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT${extras:+[$extras]}" >&2
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
    # spark-submit from the venv needs SPARK_HOME pointing at the installed pyspark package.
    SPARK_HOME="$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
    export SPARK_HOME
    export PYSPARK_PYTHON="$VENV/bin/python"
    export PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
}

# ensure_chromium: Debian's chromium for the report's browser test (tests/e2e/test_report_e2e.py
# drives it with Playwright; Playwright's own browser downloads are never used). Installed with
# apt-get when missing: as root, or through passwordless sudo.
ensure_chromium() {
    local browser="${LAKEHOUSE_CHROMIUM:-/usr/bin/chromium}"
    if [[ -x "$browser" ]]; then return 0; fi
    command -v apt-get >/dev/null 2>&1 \
        || die "$browser not found and apt-get is not available: install Chromium, then set LAKEHOUSE_CHROMIUM=/path/to/chromium"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "$browser not found, and installing it needs root: sudo apt-get install -y --no-install-recommends chromium"
        fi
    fi
    echo "installing Debian's chromium for the report's browser test (apt-get install -y --no-install-recommends chromium)" >&2
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
    # A fresh machine may have no package lists yet: update once, then try again.
    if ! "${install[@]}" >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed: cannot install chromium"
        "${install[@]}" >&2 || die "apt-get could not install chromium: install it, or set LAKEHOUSE_CHROMIUM=/path/to/chromium"
    fi
    [[ -x "$browser" ]] || die "chromium was installed but $browser is not there: set LAKEHOUSE_CHROMIUM=/path/to/chromium"
}
