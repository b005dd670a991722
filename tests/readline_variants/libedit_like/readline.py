"""readline as libedit (macOS python.org and uv Pythons) behaves, over this Python's GNU readline.

Its __doc__ says libedit (how programs tell), it knows no bracketed paste, and its history
files are libedit's: read_history_file refuses a file without the `_HiStOrY_V2_` header line
(EINVAL, as libedit does), write_history_file writes the header, and append_history_file drops
the header once it truncates the file. Everything else is GNU readline's.
"""

import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import real_readline

_real = real_readline.load(os.path.dirname(os.path.abspath(__file__)))
globals().update({name: value for name, value in vars(_real).items() if not name.startswith("__")})
__doc__ = "Importing this module enables command line editing using libedit readline."
HEADER = "_HiStOrY_V2_"


def parse_and_bind(string):
    if "bracketed-paste" in string:
        print(f"editline: unknown setting: {string}", file=sys.stderr)  # libedit knows no such variable
        return
    _real.parse_and_bind(string)


def read_history_file(filename=None):
    lines = open(filename, encoding="utf-8").read().splitlines()
    if lines[:1] != [HEADER]:
        raise OSError(errno.EINVAL, "Invalid argument")
    for line in lines[1:]:
        _real.add_history(line.replace("\\012", "\n"))


def history_entries():
    return [_real.get_history_item(index) for index in range(1, _real.get_current_history_length() + 1)]


def write_history_file(filename=None):
    with open(filename, "w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in [HEADER, *(e.replace("\n", "\\012") for e in history_entries())])


def append_history_file(nelements, filename=None):
    with open(filename, "a", encoding="utf-8") as out:
        out.writelines(e.replace("\n", "\\012") + "\n" for e in history_entries()[-nelements:])
    limit = _real.get_history_length()
    lines = open(filename, encoding="utf-8").read().splitlines()
    if 0 <= limit < len(lines):  # truncated to the limit, header included: the header is lost
        with open(filename, "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines[-limit:])
