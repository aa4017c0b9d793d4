"""The callpulse benchmark (issue 7): ``python3 bench/run.py --size tiny|small|full``; see bench/README.md."""
