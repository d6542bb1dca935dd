#!/usr/bin/env bash
# Rebuilds the two bundled sound spaces from nothing: datasets -> training -> held-out evaluation.
#
#   make spaces                      (or: bash scripts/build-spaces.sh)
#   bash scripts/build-spaces.sh --skip-datasets --skip-training   (only the evaluation and the copy)
#
# Environment:
#   AEGO_DATA   where datasets, held-out sets and training folders go (default: build/spaces-data)
#   NICE        niceness of the long jobs (default 5), so a shared machine stays responsive
#
# Writes aego/spaces/{synthetic,orchestral}.space and, next to each, NAME.eval.json: the held-out
# figures of CONTRACT §7 (VAE against the 8-component PCA baseline) and the training wall time.
# Checkpoints, loss curves and audio previews stay in $AEGO_DATA/spaces/NAME.space.train/.
# Every step continues where it stopped when the script is run again (datasets and training resume).
set -euo pipefail
cd "$(dirname "$0")/.."
AEGO="nice -n ${NICE:-5} .venv/bin/aego"
DATA=${AEGO_DATA:-build/spaces-data}
HELD=$DATA/held-out
WORK=$DATA/spaces
SPACES=aego/spaces
mkdir -p "$DATA" "$HELD" "$WORK"
SKIP_DATASETS=0; SKIP_TRAINING=0
for arg in "$@"; do
    case $arg in
        --skip-datasets) SKIP_DATASETS=1 ;;
        --skip-training) SKIP_TRAINING=1 ;;
        *) echo "build-spaces.sh: unknown option $arg (use --skip-datasets, --skip-training)" >&2; exit 2 ;;
    esac
done

if [ $SKIP_DATASETS = 0 ]; then
echo "== datasets (the full plans) into $DATA"
$AEGO dataset toy-additive "$DATA/toy-additive"
$AEGO dataset toy-fm "$DATA/toy-fm"
$AEGO dataset instruments "$DATA/instruments"

echo "== held-out sets: random parameters off the grid; instruments from another soundfont"
$AEGO dataset toy-additive "$HELD/toy-additive" --limit 200 --seed 101
$AEGO dataset toy-fm "$HELD/toy-fm" --limit 300 --seed 102
$AEGO dataset instruments "$HELD/instruments" --limit 150 --seed 103 --soundfont /usr/share/sounds/sf2/TimGM6mb.sf2
fi

# The settings the bundled spaces were built with (docs/spaces.md explains them). Each training stops
# when 12.5 minutes have passed (reading the sounds included).
SYNTHETIC_ARGS=(--dims 8 --decoder peaks --half-peaks 64 --env-points 64 --regularization kl --beta 0.1 --seed 0
                --frames-per-sound 3 --epochs 60 --max-minutes 12.5)
ORCHESTRAL_ARGS=(--dims 8 --decoder peaks --half-peaks 48 --env-points 128 --regularization kl --beta 0.1 --seed 0
                 --frames-per-sound 32 --epochs 60 --max-minutes 12.5 --eq-db 6)

train() {  # train NAME ARGS... DATA... -- measures the wall time
    local name=$1; shift
    local start=$SECONDS
    $AEGO train "$@" -o "$WORK/$name.space" --quiet > "$WORK/$name.log" 2>&1
    echo $((SECONDS - start)) > "$WORK/$name.seconds"
}

if [ $SKIP_TRAINING = 0 ]; then
# One after the other, one torch thread each: two trainings side by side on this 2-core machine were
# each 2-4 times slower per step than one alone.
echo "== training synthetic (toy-additive + toy-fm), then orchestral (instruments); logs in $WORK/*.log"
train synthetic "${SYNTHETIC_ARGS[@]}" "$DATA/toy-additive" "$DATA/toy-fm" || { tail -5 "$WORK/synthetic.log"; exit 1; }
train orchestral "${ORCHESTRAL_ARGS[@]}" "$DATA/instruments" || { tail -5 "$WORK/orchestral.log"; exit 1; }
fi

echo "== held-out evaluation"
evaluate() {  # evaluate NAME HELD-SET...
    local name=$1; shift
    local out="$WORK/$name.eval.json"
    {
        echo "{\"space\": \"$name\", \"train_seconds\": $(cat "$WORK/$name.seconds"),"
        echo " \"frame_decoder\": $(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -c \
            "import json; from aego.space import SoundSpace; from aego.evaluation import time_frame_decoder; \
print(json.dumps(time_frame_decoder(SoundSpace.load('$WORK/$name.space'))))"),"
        echo " \"held_out\": {"
        local first=1
        for set in "$@"; do
            [ $first = 1 ] || echo ","
            first=0
            echo "  \"$set\": $($AEGO eval "$WORK/$name.space" "$HELD/$set" --json)"
        done
        echo "}}"
    } > "$out"
    .venv/bin/python -m json.tool "$out" > "$out.tmp" && mv "$out.tmp" "$out"
    cp "$WORK/$name.space" "$out" "$SPACES/"
    $AEGO eval "$SPACES/$name.space" "$HELD/$1"
}
evaluate synthetic toy-additive toy-fm
evaluate orchestral instruments
echo "== done: $SPACES/synthetic.space, $SPACES/orchestral.space (figures in $SPACES/*.eval.json)"
