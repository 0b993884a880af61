# Sourced by .ci/run: Debian's chromium for the browser test in tests/e2e (Playwright drives it through
# executable_path=/usr/bin/chromium; Playwright's own browser download is not possible offline).
# fonts-wqy-microhei (5 MB) gives the saved screenshots readable Chinese; the test asserts on the DOM, not pixels.

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
}

ensure_chromium
