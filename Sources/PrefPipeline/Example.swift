extension PipelineConfig {
    /// What `prefkit pipeline --init` writes: every key, commented.
    public static let example = """
    # prefkit pipeline config (YAML). Run it with:  prefkit pipeline pipeline.yaml
    # Relative paths are relative to this file's directory. Rerunning keeps every stage that
    # finished with the same inputs and options; a changed input or option reruns that stage and
    # the stages after it (--force reruns all).

    # Everything goes under this directory: one sub-directory per stage, manifest.json, index.html.
    run: runs/example

    # Raw corpora for convert (files, directories or globs; formats are detected), or normalized
    # pair files when the pipeline has no convert stage.
    inputs:
      - data/hh-rlhf/train.jsonl.gz
      - data/stackexchange/Posts.xml

    # Worker threads of every stage (default: all cores).
    # threads: 8

    # The stages, in order. Each is a command's name with its options, written as on the command
    # line without the dashes ('prefkit COMMAND --help' lists them): a flag is 'name: true', a
    # repeated option a list. The pipeline sets the inputs and outputs of every stage.
    # Any stage but score and export may add 'shards: N' (N tasks; dedup, split and stats then run
    # in phases), 'parallel: P' (tasks at once on this machine), 'launcher: slurm' (each step an
    # sbatch --wait array job) and 'sbatch: "--mem=4G --time=1:00:00"'.
    stages:
      - convert:
          from: auto              # or a format: hh, stackexchange, oasst, ultrafeedback, ...
          max-pairs-per-question: 3
      - filter:
          empty: true             # an empty prompt or reply
          identical: true         # chosen == rejected
          tie: true               # equal scores
          response-chars: "1:20000"
      - dedup:
          keep: largest-margin    # first, largest-margin, longest, source-priority
          threshold: 0.8
          # shards: 4
      # - decontaminate:
      #     against: [evals/mt_bench.jsonl, evals/alpacaeval.jsonl]
      - split:
          test: 0.1
          seed: 1
      - stats: {}
      - score:
          budget: quick           # quick, standard, thorough
          seed: 1
      # - export:
      #     to: trl                # trl, openai, llamafactory, axolotl, kto

    """
}
