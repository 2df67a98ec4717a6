# Podium job shim (POSIX sh). Usage: sh shim.sh ATTEMPT_DIR COMMAND [ARG...]
#
# It stands between the worker and the job so that the job survives the worker: it records its
# own pid (with its start time, against pid reuse) before anything runs, and the job's exit
# status after, each by an atomic rename, so a restarted worker re-attaches or reads the result
# instead of launching again. Its stdout and stderr are already the attempt's log.
#
# The traps keep the shim alive through the SIGTERM sent to its process group, so the status of
# a job stopped that way is still recorded (128+N for a job killed by signal N); a job stopped
# before it even started does not start.
#
# A root worker runs the job as another user by putting setpriv in front of COMMAND: the shim
# itself stays root, so the files it writes stay where the job cannot touch them. The step's
# assets (plain text) are removed as soon as the job's command has ended.
trap '_podium_stopped=143' TERM
trap '_podium_stopped=130' INT
trap '_podium_stopped=129' HUP
dir=$1
shift

_podium_pid_line() { echo "$1 ${22}"; }
read -r _podium_stat </proc/$$/stat
# shellcheck disable=SC2086
_podium_pid_line $_podium_stat >"$dir/pid.tmp" && mv -f "$dir/pid.tmp" "$dir/pid"

if [ -n "${_podium_stopped:-}" ]; then
    status=$_podium_stopped
elif cd "$dir/work"; then
    "$@" </dev/null
    status=$?
else
    status=127
fi

# Whatever the job left running in its process group goes with it, and so do its assets.
kill -s TERM 0 2>/dev/null
if [ -d "$dir/assets" ]; then /bin/rm -rf -- "$dir/assets"; fi
echo "$status" >"$dir/exit.tmp" && mv -f "$dir/exit.tmp" "$dir/exit"
exit "$status"
