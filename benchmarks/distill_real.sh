#!/usr/bin/env bash
# The real-model KD student and its control (benchmarks/distill.md), with one kill -9 of the KD build after its
# first checkpoint and a resume. Run from the repository root with PYTHONPATH, QDBENCH_HOME set; logs go to $LOG.
set -u
LOG=${LOG:-distill-real}
ARGS=(--teacher builtin:smollm2-135m --student teacher --student-init teacher-layers
      --teacher-layers 0,1,2,3,4,5,6,7,23,24,25,26,27,28,29 --corpus teacher:96 --temperature 2 --alpha 0.5
      --topk 64 --steps 80 --batch-size 8 --seq-len 128 --lr 0.0003 --warmup-steps 10 --lr-schedule cosine
      --seed 0 --save-dtype bfloat16 --checkpoint-every 20)
PY=${PY:-python}
# 1. KD, killed with SIGKILL once its first checkpoint is complete
/usr/bin/time -v $PY -m bench.cli.main distill "${ARGS[@]}" > "$LOG.kd-killed.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
  if ls "$QDBENCH_HOME"/variants/.distill-*.work/ckpt-00000020/trainer.json >/dev/null 2>&1; then
    sleep 5; kill -9 $(pgrep -P $pid); echo "killed at $(date +%T)" >> "$LOG.kd-killed.log"; break
  fi
  sleep 5
done
wait $pid 2>/dev/null
# 2. the same command resumes from the checkpoint
/usr/bin/time -v $PY -m bench.cli.main distill "${ARGS[@]}" > "$LOG.kd.log" 2>&1
# 3. the control: same init, data order, steps and seed; hard labels only
/usr/bin/time -v $PY -m bench.cli.main distill "${ARGS[@]}" --no-teacher > "$LOG.nds.log" 2>&1
# 4. the KD student again: reused, now printed next to its control
$PY -m bench.cli.main distill "${ARGS[@]}" > "$LOG.kd-vs-nds.log" 2>&1
echo done >> "$LOG.kd-vs-nds.log"
