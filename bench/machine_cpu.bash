# machine_cpu: CPU seconds the whole machine has spent so far (every process,
# the servers under test included), from /proc/stat; the difference around
# a command is what it cost the machine.  Sourced by bench scripts.
machine_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8)/hz}' /proc/stat
}
