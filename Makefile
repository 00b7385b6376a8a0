# prefkit: two commands do everything on a fresh Debian machine.
#   make demo   installs what is missing, builds, and converts the bundled data
#   make test   installs what is missing and runs the whole test suite
SHELL := /bin/bash
APT_PACKAGES := libzstd-dev zlib1g-dev libxml2-dev libopenblas-dev libsnappy-dev pkg-config zstd libssl-dev
REALDATA := ../shared/realdata
DEMO := demo-out

.PHONY: deps build demo test bench fixtures fuzz clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.x toolchain needed)"; exit 1; }

build: deps
	swift build -c release

demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== every bundled fixture, auto-detected, into one zstd file (bad input goes to the rejects file)"
	-.build/release/prefkit convert fixtures/*.jsonl fixtures/*.json fixtures/*.zst fixtures/*.gz \
	    -o $(DEMO)/fixtures.jsonl.zst --summary-json $(DEMO)/fixtures.summary.json
	@if [ -d $(REALDATA) ]; then \
	  echo "== real HH-RLHF harmless-base test split and LLaMA-Factory demos, sharded"; \
	  .build/release/prefkit convert $(REALDATA)/hh-rlhf_harmless-base_test.jsonl.gz $(REALDATA)/llamafactory_dpo_en_demo.json \
	      $(REALDATA)/llamafactory_dpo_zh_demo.json $(REALDATA)/llamafactory_v1_dpo_demo.jsonl \
	      -o $(DEMO)/real --shard-size 1000 --summary-json $(DEMO)/real.summary.json; \
	  echo "== real Stack Exchange dumps (XML) and OpenAssistant trees, joined into pairs"; \
	  .build/release/prefkit convert $(REALDATA)/se_coffee_Posts.xml $(REALDATA)/se_beer_Posts.xml $(REALDATA)/se_tpxml_Posts.xml \
	      $(REALDATA)/oasst_en_100_tree.jsonl -o $(DEMO)/joined.jsonl.zst --summary-json $(DEMO)/joined.summary.json; \
	else echo "($(REALDATA) not present: real-data demo skipped)"; fi
	@if [ -d $(REALDATA) ]; then \
	  echo "== prefkit score (quick budget) on the real HH-RLHF harmless-base test split: about a minute"; \
	  .build/release/prefkit convert $(REALDATA)/hh-rlhf_harmless-base_test.jsonl.gz -o $(DEMO)/hh.jsonl -q; \
	  .build/release/prefkit score $(DEMO)/hh.jsonl -o $(DEMO)/score --budget quick; \
	fi
	@echo "== outputs in $(DEMO)/"; ls -la $(DEMO) $(DEMO)/real 2>/dev/null || true

test: deps
	swift build --build-tests
	swift test
	bash scripts/check_contributing.sh
	bash scripts/slurm/integration-test.sh

bench: build
	bash bench/run.sh

fixtures:
	python3 scripts/make_fixtures.py
	python3 scripts/make_bad_fixtures.py

# libFuzzer + AddressSanitizer on the parsers of untrusted input, FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	cd Fuzz && swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build $(DEMO)
