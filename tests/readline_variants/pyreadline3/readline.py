"""readline as pyreadline3 (common on Windows) offers it, over this Python's GNU readline.

pyreadline3's module has no append_history_file and no set_auto_history (each line typed is
added to the history by the module itself), and is neither GNU readline nor libedit, so it
knows no bracketed paste: only the functions pyreadline3 defines are passed through.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import real_readline

_real = real_readline.load(os.path.dirname(os.path.abspath(__file__)))
PYREADLINE3_FUNCTIONS = (
    "parse_and_bind get_line_buffer insert_text clear_history read_init_file read_history_file "
    "write_history_file get_current_history_length get_history_length get_history_item set_history_length "
    "set_startup_hook set_pre_input_hook set_completer get_completer get_begidx get_endidx "
    "set_completer_delims get_completer_delims add_history"
).split()
globals().update({name: getattr(_real, name) for name in PYREADLINE3_FUNCTIONS})
