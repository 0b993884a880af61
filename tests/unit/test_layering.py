"""The pure core stays pure: importing it never loads lark_oapi (2-4 s, ~170 MB), Flask or the store."""

import subprocess
import sys


def test_pure_modules_do_not_load_the_sdk():
    code = (
        "import sys; import bot.rules, bot.approvals, bot.inbound, bot.config, bot.security, cards; "
        "heavy = [m for m in ('lark_oapi', 'flask', 'sqlalchemy') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_only_the_gateway_imports_lark_oapi():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    importers = sorted(
        str(path.relative_to(root))
        for folder in ("bot", "handlers", "cards", "sandbox")
        for path in (root / folder).rglob("*.py")
        if any(line.lstrip().startswith(("import lark_oapi", "from lark_oapi"))
               for line in path.read_text(encoding="utf-8").splitlines())
    )
    assert importers == ["bot/feishu.py", "bot/longconn.py"]
