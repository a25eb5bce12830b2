"""Entry point of job 2 (feature tables -> ML feature tables); the code is in the quantum_pipeline package."""

from quantum_pipeline.ml_job import main

if __name__ == "__main__":
    main()
