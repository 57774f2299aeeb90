"""A stand-in for mpremote whose "board" is the MicroPython unix port with the chip shims, for
testing tools/board.py (test_board_tool.py). It takes the subset tools/board.py uses:

    fake_mpremote.py connect PORT CMD [ARGS] [+ CMD [ARGS]]...
    CMD: run FILE | exec CODE | fs cp [-r] SRC :DEST | fs cp SRC :DEST

The board's filesystem is the directory $FAKE_BOARD_FS (its lib/ is on the import path, as on a
board), its flash $FAKE_BOARD_FLASH. With $FAKE_BOARD_FS unset there is no board: `connect auto`
fails as mpremote does. Each command line is appended to $FAKE_BOARD_FS/../mpremote.log.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from interpreters import SHIMS, micropython_binary  # noqa: E402


def on_board(fs, args):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(fs / "lib"), str(SHIMS)]),
               ESP32_FLASH=os.environ["FAKE_BOARD_FLASH"])
    proc = subprocess.run([micropython_binary(), "-X", "heapsize=256k"] + args, cwd=fs, env=env,
                          capture_output=True, text=True, timeout=120)
    sys.stdout.write(proc.stdout + proc.stderr)
    return proc.returncode


def copy(fs, args):
    recursive = args[0] == "-r"
    src, dest = Path(args[-2]), fs / args[-1].lstrip(":")
    if recursive:
        shutil.copytree(src, dest / src.name if args[-1].endswith("/") else dest, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dest / src.name if dest.is_dir() else dest)
    return 0


def main(argv):
    assert argv[0] == "connect", argv
    fs = os.environ.get("FAKE_BOARD_FS")
    if not fs:
        print("mpremote: no device found" if argv[1] == "auto" else
              "mpremote: failed to access %s (it may be in use by another program)" % argv[1])
        return 1
    fs = Path(fs)
    with open(fs.parent / "mpremote.log", "a") as log:
        log.write(" ".join(argv) + "\n")
    cmds, cur = [], []
    for a in argv[2:]:
        if a == "+":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    for cmd in cmds:
        if cmd[0] == "run":
            status = on_board(fs, [cmd[1]])
        elif cmd[0] == "exec":
            status = on_board(fs, ["-c", cmd[1]])
        elif cmd[:2] == ["fs", "cp"]:
            status = copy(fs, cmd[2:])
        else:
            raise SystemExit("fake mpremote: unsupported command %r" % cmd)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
