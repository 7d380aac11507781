"""Overview: what the model is, how well it does, and where to start."""
import streamlit as st

from app import tour, ui
from lab import model_card, sources

st.title("Dynamic facial expression recognition, explained")
st.markdown(
    "A **two-stream network** reads a face video and names its expression, one of "
    f"*{', '.join(ui.CLASSES)}*. The **spatial stream** looks at the face crops (appearance), the **temporal stream** "
    "at the optical flow between them (motion). Between the two, an **inter-stream attention module** lets each "
    "stream ask the other: appearance asks *where does this move?*, motion asks *what is it that moves here?* "
    "(after patent CN112800894). This lab lets you look inside."
)

chosen = ui.selection()
loaded = ui.current_model(chosen)
if takeaway := model_card.ablation_takeaway(sources.ablation_file()):
    st.container(key="ablation_takeaway").info(f"**Does the inter-stream attention module help?** {takeaway}",
                                               icon=":material/lightbulb:")

st.subheader("Architecture")
st.caption(f"Shapes for {'checkpoint ' + chosen.checkpoint_name if loaded else 'the default recipe'}.")
st.graphviz_chart(model_card.architecture_dot(*ui.architecture(loaded)), width="stretch")

st.subheader("Model card")
checkpoints = sources.checkpoint_choices()
if checkpoints:
    st.dataframe(model_card.metrics_table(checkpoints), hide_index=True)
    st.caption("WAR = accuracy over all clips; UAR = mean of the per-class recalls (fair to rare classes). "
               "Measured on the embedded procedural corpus, not on AFEW or DFEW.")
ablation_file = sources.ablation_file()
ablation = model_card.ablation_table(ablation_file)
if ablation is not None:
    st.markdown("**Ablation**: what each part of the design contributes.")
    st.table(ablation.set_index("model"))  # wraps its long names: whole at 1280 px
    st.caption(" ".join(filter(None, [
        "Test of the embedded corpus, each variant trained with several seeds where it says so: mean ± sample "
        "standard deviation over the seeds; a single seed shows its value alone. Real clips: accuracy on the small "
        "real-face set. Bypassed at inference: the attention models evaluated with the module skipped, "
        "not retrained.", model_card.bypassed_note(ablation_file)])))
else:
    st.caption("No ablation results yet (assets/results/ablation.json).")

st.subheader("A guided tour")
st.caption("Showing the lab to a class? Turn on **Guided demo** in the sidebar: numbered steps on every page, "
           "each with a link to the next.")
st.markdown("\n".join(f"{number}. **{step.title}**: {step.text}" for number, step in enumerate(tour.STEPS, 1)))
for column, (file, label, icon) in zip(st.columns(4), (
        ("pages/analyze.py", "Analyze a clip", ":material/search:"),
        ("pages/explanation_quality.py", "Explanation quality", ":material/rule:"),
        ("pages/confusion.py", "Confusion matrices", ":material/grid_on:"),
        ("pages/dataset.py", "Dataset explorer", ":material/movie:"))):
    column.page_link(ui.page(file), label=label, icon=icon)
