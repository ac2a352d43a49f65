"""What leaves the kit for a learning-management system: the student handout, the Gradescope
autograder bundle (plain, or built with otter-grader), and the code that runs inside it."""
