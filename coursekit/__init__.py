"""The course's importable library, used by chapters, assignments and the grader."""
