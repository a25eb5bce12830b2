"""Entry point of job 3 (table maintenance); the code is in the quantum_pipeline package."""

from quantum_pipeline.maintenance import main

if __name__ == "__main__":
    main()
