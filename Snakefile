# hintforce: can an RNN trained on a sparse sample of a motor-cortex circuit recover the
# circuit's hidden dynamics? See README.md for the study and workflow/rules/ for its stages.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"


# Every rule states its CPUs (threads:) and its memory in MB and wall time in minutes
# (resources: mem_mb, runtime) once, in its own rule. SLURM is asked for exactly these
# (profiles/slurm adds no per-rule sizes); a local run only uses them under --resources.
# mem_mb covers the whole SLURM job, with ~400 MB for the two Snakemake processes around it.


# Every sweep axis is a number in its path segment (key~value); model names come from the
# study registry (hintforce.study).
wildcard_constraints:
    **AXIS_CONSTRAINTS,
    model="|".join(study.MODEL_NAMES),


include: "workflow/rules/ground_truth.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/recording.smk"


# The report's front page: the generated answer (rule findings) before the study's
# description (workflow/report/workflow.rst), or the description alone until the answer is
# written.
report: LANDING_TEXT


rule all:
    default_target: True
    input:
        final_outputs(),
