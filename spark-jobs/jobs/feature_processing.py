"""Entry point of job 1 (raw results -> feature tables); the code is in the quantum_pipeline package."""

from quantum_pipeline.feature_job import main

if __name__ == "__main__":
    main()
